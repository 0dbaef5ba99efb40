"""The benchmark workloads; each module defines one or more ``Workload`` classes."""
