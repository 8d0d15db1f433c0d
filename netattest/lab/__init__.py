"""The embedded lab: namespaces wired like a cluster's nodes and VLANs, pods attached by real CNI plugins."""
