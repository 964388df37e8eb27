"""contracts: item catalog, tax rates, customer contracts and quotes."""
