// Every test starts its own servers on free loopback ports, so classes can run side by side.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.ClassLevel)]
