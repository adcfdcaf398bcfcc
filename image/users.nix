# /etc/passwd, /etc/group and /etc/nsswitch.conf for the users the init runs services as.
# PostgreSQL refuses to run as root and looks its user up by name.
{ runCommand }:
let
  users = [
    { name = "root"; uid = 0; home = "/root"; shell = "/bin/sh"; }
    { name = "postgres"; uid = 70; home = "/var/lib/postgresql"; shell = "/bin/sh"; }
    { name = "redis"; uid = 6379; home = "/var/lib/redis"; shell = "/bin/false"; }
    { name = "garage"; uid = 3900; home = "/var/lib/garage"; shell = "/bin/false"; }
    { name = "nobody"; uid = 65534; home = "/var/empty"; shell = "/bin/false"; }
  ];
  passwd = builtins.concatStringsSep "" (map (u: "${u.name}:x:${toString u.uid}:${toString u.uid}:${u.name}:${u.home}:${u.shell}\n") users);
  group = builtins.concatStringsSep "" (map (u: "${if u.name == "nobody" then "nogroup" else u.name}:x:${toString u.uid}:\n") users);
in
runCommand "nixify-etc" { inherit passwd group; passAsFile = [ "passwd" "group" ]; } ''
  mkdir -p $out/etc
  cp $passwdPath $out/etc/passwd
  cp $groupPath $out/etc/group
  echo 'hosts: files dns' > $out/etc/nsswitch.conf
''
