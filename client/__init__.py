"""The govshare Python client and command line; it talks to the server over SOAP only."""
