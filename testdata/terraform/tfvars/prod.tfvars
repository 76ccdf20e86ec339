environment = "prod"
buffer_mb   = "16"
