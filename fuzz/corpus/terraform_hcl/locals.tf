locals {
  a = [for i in [1, 2] : i * 2 if i > 1]
  b = local.a[0] > 1 ? "y" : "n"
}
