// Python (Debian's python3-prometheus-client) that holds a captured /metrics text's families in a
// registry, so prometheus_client renders them as an engine would, whole or through its name[] filter
// (RestrictedRegistry needs names to match: the collector describes what it collects). The capture's
// path is sys.argv[1]; what follows uses `registry` and `generate_latest`.
export const CAPTURE_REGISTRY_PY = `
import json, sys, time
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(open(sys.argv[1]).read()))
class Capture:
    def collect(self):
        return families
    describe = collect
registry = CollectorRegistry()
registry.register(Capture())
`;
