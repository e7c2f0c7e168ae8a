"""QPV service: is this address in a quartier prioritaire de la politique de la ville?"""
