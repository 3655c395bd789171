// Every test class starts its own redis-server on a free port, so classes can run side by side.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.ClassLevel)]
