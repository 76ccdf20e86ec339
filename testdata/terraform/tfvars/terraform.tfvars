environment = "staging"
streams     = ["clicks", "views"]
