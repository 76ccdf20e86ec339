variable "bucket_name" {
  description = "Bucket the delivery stream writes to."
  type        = string
  default     = "sluice-tf-events"
}

variable "stream_name" {
  description = "Name of the Firehose delivery stream."
  type        = string
  default     = "tf-events"
}

variable "firehose_role_name" {
  description = "IAM role Firehose assumes to write to the bucket."
  type        = string
  default     = "firehose-delivery"
}
