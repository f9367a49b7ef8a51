"""A local stand-in for the hosted Move UGC API: GraphQL, S3-style storage, jobs, webhooks, faults."""
