variable "environment" {
  type = string
}

variable "buffer_mb" {
  type    = number
  default = 5
}

variable "streams" {
  type    = list(string)
  default = ["clicks"]
}

resource "aws_s3_bucket" "sink" {
  bucket = "sluice-tf-${var.environment}"
}

resource "aws_kinesis_firehose_delivery_stream" "per_source" {
  for_each    = toset(var.streams)
  name        = "${var.environment}-${each.key}"
  destination = "extended_s3"

  extended_s3_configuration {
    role_arn           = "arn:aws:iam::123456789012:role/firehose"
    bucket_arn         = aws_s3_bucket.sink.arn
    prefix             = "${each.value}/"
    buffering_size     = var.buffer_mb
    buffering_interval = 0
    s3_backup_mode     = "Disabled"
    file_extension     = ".json"
  }
}
