# The ports the image exposes, and what listens on each.
[
  { port = 80; what = "nixify-init health API"; }
  { port = 5432; what = "PostgreSQL"; }
  { port = 6379; what = "Redis"; }
  { port = 3900; what = "Garage S3 API"; }
  { port = 3901; what = "Garage RPC"; }
  { port = 3902; what = "Garage web"; }
  { port = 3903; what = "Garage admin API"; }
]
