"""The resource directory: UDDI v3 services, the catalogue workflow and taxonomies."""
