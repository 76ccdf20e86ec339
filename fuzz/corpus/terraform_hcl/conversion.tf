# Parquet conversion against a Glue table declared alongside, with dynamic partitioning on a
# key extracted by jq.

locals {
  database = "tf_analytics"
  table    = "orders"
  prefix   = "orders/customer_id=!{partitionKeyFromQuery:customer_id}/"
}

resource "aws_s3_bucket" "lake" {
  bucket = "sluice-tf-lake"
}

resource "aws_iam_role" "firehose" {
  name               = "firehose-orders"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [] })
}

resource "aws_glue_catalog_database" "analytics" {
  name = local.database
}

resource "aws_glue_catalog_table" "orders" {
  name          = local.table
  database_name = aws_glue_catalog_database.analytics.name
  table_type    = "EXTERNAL_TABLE"

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.lake.bucket}/orders/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    columns {
      name = "order_id"
      type = "string"
    }
    columns {
      name = "customer_id"
      type = "string"
    }
    columns {
      name    = "amount"
      type    = "double"
      comment = "in EUR"
    }
  }
}

resource "aws_kinesis_firehose_delivery_stream" "orders" {
  name        = "tf-orders"
  destination = "extended_s3"

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = aws_s3_bucket.lake.arn
    prefix              = local.prefix
    error_output_prefix = "orders-errors/!{firehose:error-output-type}/"
    buffering_size      = 64
    buffering_interval  = 60

    dynamic_partitioning_configuration {
      enabled = true
    }

    processing_configuration {
      enabled = true

      processors {
        type = "MetadataExtraction"
        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = "{customer_id:.customer_id}"
        }
      }
    }

    data_format_conversion_configuration {
      input_format_configuration {
        deserializer {
          open_x_json_ser_de {}
        }
      }

      output_format_configuration {
        serializer {
          parquet_ser_de {
            compression = "SNAPPY"
          }
        }
      }

      schema_configuration {
        database_name = aws_glue_catalog_table.orders.database_name
        table_name    = aws_glue_catalog_table.orders.name
        role_arn      = aws_iam_role.firehose.arn
      }
    }
  }
}
