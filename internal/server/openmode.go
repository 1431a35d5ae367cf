package server

// noKeysMessage is the 401 a closed gateway without keys answers. It is
// written for whoever runs the gateway, since the caller can do nothing
// about it but forward it.
const noKeysMessage = "this gateway has no client keys yet, so it refuses model calls: " +
	"create one with `tollgate keys create` (or list keys: in the config file), " +
	"or set server.open_without_keys: true to admit callers without a key"
