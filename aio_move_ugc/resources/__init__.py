"""The API's resources as the client exposes them (`ugc.files`, `ugc.jobs`...)."""
