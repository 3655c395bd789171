// Every test starts its own gateway, engines and directories, so classes can run side by side.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.ClassLevel)]
