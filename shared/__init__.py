"""The library every Tameio service stands on: config, web, db, messaging, money, clock."""
