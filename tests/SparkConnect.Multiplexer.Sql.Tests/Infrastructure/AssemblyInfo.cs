// Each test starts its own engine and shell processes on free ports: classes may run side by side.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.ClassLevel)]
