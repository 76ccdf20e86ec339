variable "name" {
  type = string
}

resource "aws_kinesis_firehose_delivery_stream" "broken" {
  name        = var.nmae
  destination = "extended_s3"

  extended_s3_configuration {
    role_arn       = "arn:aws:iam::123456789012:role/firehose"
    bucket_arn     = aws_s3_bucket.missing.arn
    buffering_size = "lots"
    compresion     = "GZIP"
  }
}
