// Every test starts its own ZooKeeper server, gateways and engines on free ports, so classes can run side by side.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.ClassLevel)]
