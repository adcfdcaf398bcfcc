# Seconds since 1970 to an RFC 3339 UTC timestamp, in pure Nix, so that the image's `created`
# label can be the commit time (Howard Hinnant's civil_from_days; no negative times needed).
epoch:
let
  div = builtins.div;
  mod = a: b: a - b * (div a b);
  pad = n: if n < 10 then "0${toString n}" else toString n;
  days = div epoch 86400;
  secs = mod epoch 86400;
  z = days + 719468;
  era = div z 146097;
  doe = z - era * 146097;
  yoe = div (doe - div doe 1460 + div doe 36524 - div doe 146096) 365;
  doy = doe - (365 * yoe + div yoe 4 - div yoe 100);
  mp = div (5 * doy + 2) 153;
  d = doy - div (153 * mp + 2) 5 + 1;
  m = if mp < 10 then mp + 3 else mp - 9;
  y = yoe + era * 400 + (if m <= 2 then 1 else 0);
in
"${toString y}-${pad m}-${pad d}T${pad (div secs 3600)}:${pad (mod (div secs 60) 60)}:${pad (mod secs 60)}Z"
