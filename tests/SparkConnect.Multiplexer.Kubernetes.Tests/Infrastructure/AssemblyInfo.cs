// Every test starts its own stand-in API server, gateway and engines, so classes can run side by side.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.ClassLevel)]
