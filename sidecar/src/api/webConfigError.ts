// A web config file that cannot be used. Its own module so that the TLS setup, which the server always
// loads, does not load the config parser (yaml and its schema) on hosts that have no config file.
export class WebConfigError extends Error {}
