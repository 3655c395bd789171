namespace SparkConnect.Multiplexer.LocalEngine.Execution;

/// <summary>
/// The engine's data directory as DataFrame readers and writers see it: relative paths land in it, and every path
/// that leads elsewhere — <c>..</c>, an absolute path outside it, a symbolic link whose target is outside, a URL —
/// is refused before DuckDB sees it. (DuckDB's own <c>allowed_directories</c> compares path text only and does
/// not follow links; this check does.)
/// </summary>
internal sealed class DataFiles
{
    public DataFiles(string root)
    {
        Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        RealRoot = RealPath(Root);
    }

    /// <summary>The directory as configured (DuckDB's allowed_directories holds this text).</summary>
    public string Root { get; }

    /// <summary>The directory with every symbolic link on the way resolved.</summary>
    private string RealRoot { get; }

    /// <summary>A user's path as a full path inside the data directory, or INSUFFICIENT_PERMISSIONS.</summary>
    public string Resolve(string userPath)
    {
        ArgumentNullException.ThrowIfNull(userPath);
        var path = userPath.Trim();
        if (path.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            path = path["file://".Length..];
        }
        else if (path.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            path = path["file:".Length..];
        }

        if (path.Length == 0 || path.Contains("://", StringComparison.Ordinal) || path.Contains('\0', StringComparison.Ordinal))
        {
            throw Outside(userPath, "only files in the data directory can be read or written (no URLs)");
        }

        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(Root, path)));
        if (!IsInside(full, Root))
        {
            throw Outside(userPath, "the path leads outside the data directory");
        }

        // The real path lies inside the real root, or a link on the way leads out.
        var real = RealPath(full);
        if (!IsInside(real, RealRoot))
        {
            throw Outside(userPath, "a symbolic link on the path leads outside the data directory");
        }

        return Path.Combine(Root, Path.GetRelativePath(RealRoot, real));
    }

    /// <summary>
    /// The files a read of <paramref name="userPath"/> covers, as Spark reads them: a file; every data file under a
    /// directory (names starting with <c>_</c> or <c>.</c>, such as <c>_SUCCESS</c>, are not data); or the files a
    /// <c>*</c>/<c>?</c> pattern in the last part matches. Each one is checked like <see cref="Resolve"/>.
    /// </summary>
    public IReadOnlyList<string> InputFiles(string userPath)
    {
        var name = Path.GetFileName(userPath.TrimEnd('/', '\\'));
        string[] candidates;
        if (name.IndexOfAny(['*', '?']) >= 0)
        {
            var directory = Resolve(Path.GetDirectoryName(userPath.TrimEnd('/', '\\')) is { Length: > 0 } parent ? parent : ".");
            if (Path.GetDirectoryName(userPath)!.IndexOfAny(['*', '?', '[']) >= 0)
            {
                throw EngineException.Unsupported($"a wildcard in a directory name ('{userPath}'); put it in the file name only");
            }

            candidates = Directory.Exists(directory) ? [.. Directory.EnumerateFiles(directory, name).Where(IsDataFile)] : [];
        }
        else
        {
            var full = Resolve(userPath);
            candidates = Directory.Exists(full)
                ? [.. Directory.EnumerateFiles(full, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }).Where(f => IsDataPath(full, f))]
                : File.Exists(full) ? [full] : [];
        }

        if (candidates.Length == 0)
        {
            throw new EngineException(ErrorClasses.PathNotFound, $"Path does not exist: file:{Display(userPath)}.", new() { ["path"] = $"file:{Display(userPath)}" });
        }

        // A file reached through a link is checked where the link points.
        return [.. candidates.Order(StringComparer.Ordinal).Select(f => Resolve(f))];
    }

    /// <summary>The path as a client should read it in a message: relative to the data directory.</summary>
    public string Display(string userPath)
    {
        try
        {
            var full = Path.GetFullPath(Path.IsPathRooted(userPath) ? userPath : Path.Combine(Root, userPath));
            return IsInside(full, Root) ? Path.GetRelativePath(Root, full) : userPath;
        }
        catch (ArgumentException)
        {
            return userPath;
        }
    }

    private static bool IsDataFile(string file) => !Path.GetFileName(file).StartsWith('_') && !Path.GetFileName(file).StartsWith('.');

    private static bool IsDataPath(string directory, string file)
        => Path.GetRelativePath(directory, file).Split(Path.DirectorySeparatorChar).All(part => !part.StartsWith('_') && !part.StartsWith('.'));

    private static bool IsInside(string path, string root)
        => string.Equals(path, root, StringComparison.Ordinal)
            || path.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The path with every symbolic link on the way (dangling ones too) replaced by its target.</summary>
    private static string RealPath(string fullPath, int depth = 0)
    {
        if (depth > 40)
        {
            throw new EngineException(ErrorClasses.InsufficientPermissions, "Insufficient privileges: too many levels of symbolic links.", new() { ["report"] = "symbolic link loop" });
        }

        var root = Path.GetPathRoot(fullPath)!;
        var current = root;
        var parts = fullPath[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            if (new FileInfo(next).LinkTarget is { } target)
            {
                // Resolved one link at a time, so a chain of links (or one to a missing file) is followed too.
                var resolved = RealPath(Path.GetFullPath(target, current), depth + 1);
                current = Path.Combine([resolved, .. parts[(i + 1)..]]);
                return i + 1 < parts.Length ? RealPath(current, depth + 1) : resolved;
            }

            if (!Directory.Exists(next) && !File.Exists(next))
            {
                // Nothing further exists, so nothing further can be a link.
                return Path.Combine([next, .. parts[(i + 1)..]]);
            }

            current = next;
        }

        return current;
    }

    private static EngineException Outside(string userPath, string why)
        => new(
            ErrorClasses.InsufficientPermissions,
            $"Insufficient privileges: cannot access '{userPath}': {why}. The local engine reads and writes files only in its data directory (LocalEngine:DataDirectory); use a path relative to it.",
            new() { ["report"] = $"'{userPath}': {why}" });
}
