"""The local stack: the real workflow file and Lambda code against local stand-ins."""
