using RadLine;
using Spectre.Console;

namespace SparkConnect.Multiplexer.Sql.Input;

/// <summary>
/// Lines typed at a terminal, with line editing (arrows, Home/End, Ctrl+arrows by word) and history (Up/Down),
/// kept across runs in a history file. Ctrl+D on an empty line ends the input.
/// </summary>
internal sealed class TerminalLineSource : ILineSource
{
    private const int HistoryLimit = 1000;
    private readonly LineEditor _editor;
    private readonly ShellPrompt _prompt = new();
    private readonly string? _historyFile;
    private string? _lastSaved;

    public TerminalLineSource(string? historyFile)
    {
        _historyFile = historyFile;
        _editor = new LineEditor { Prompt = _prompt, MultiLine = false };

        // One line per read (the shell joins lines into statements): Up and Down walk the history, as in readline.
        _editor.KeyBindings.Add<PreviousHistoryCommand>(ConsoleKey.UpArrow);
        _editor.KeyBindings.Add<NextHistoryCommand>(ConsoleKey.DownArrow);
        _editor.KeyBindings.Add(ConsoleKey.D, ConsoleModifiers.Control, () => new EndOfInputCommand());

        // A line feed ends a line too, as in readline (Ctrl+J): keys typed or pasted while the terminal was still in
        // line mode (before the first read) arrive with their Enter turned into a line feed.
        _editor.KeyBindings.Add<SubmitCommand>(ConsoleKey.Enter, ConsoleModifiers.Control);
        _editor.KeyBindings.Add<SubmitCommand>(ConsoleKey.J, ConsoleModifiers.Control);
        foreach (var line in LoadHistory(historyFile))
        {
            _editor.History.Add(line);
            _lastSaved = line;
        }
    }

    /// <summary>Whether this terminal can do line editing (an interactive terminal that understands ANSI).</summary>
    public static bool IsSupported => !Console.IsInputRedirected && LineEditor.IsSupported(AnsiConsole.Console);

    public async Task<string?> ReadLineAsync(bool continuation, CancellationToken cancellationToken)
    {
        _prompt.Continuation = continuation;
        string? line;
        try
        {
            line = await _editor.ReadLine(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The editor stops mid-line when cancelled: end the line it drew.
            AnsiConsole.WriteLine();
            throw;
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (line is not null && line.Trim().Length > 0)
        {
            SaveHistory(line);
        }

        return line;
    }

    public void Dispose()
    {
    }

    private static List<string> LoadHistory(string? file)
    {
        try
        {
            return file is not null && File.Exists(file) ? File.ReadLines(file).TakeLast(HistoryLimit).ToList() : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private void SaveHistory(string line)
    {
        // A statement run again and again is one history entry, as in the editor's own history.
        if (_historyFile is null || line == _lastSaved)
        {
            return;
        }

        _lastSaved = line;
        try
        {
            // Statements may hold secrets: the file is the user's alone.
            var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var stream = new FileStream(_historyFile, options);
            using var writer = new StreamWriter(stream);
            writer.WriteLine(line.ReplaceLineEndings(" "));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // History is a convenience; a read-only home must not stop the shell.
        }
    }

    /// <summary>The prompt of a first line, or of a line that continues a statement.</summary>
    private sealed class ShellPrompt : ILineEditorPrompt
    {
        private static readonly Markup Statement = new(Prompts.Statement.TrimEnd());
        private static readonly Markup More = new(Prompts.Continuation.TrimEnd());

        public bool Continuation { get; set; }

        public (Markup Markup, int Margin) GetPrompt(ILineEditorState state, int line) => (Continuation ? More : Statement, 1);
    }

    /// <summary>Ctrl+D: the end of the input on an empty line (as in a Unix shell), otherwise delete.</summary>
    private sealed class EndOfInputCommand : LineEditorCommand
    {
        public override void Execute(LineEditorContext context)
        {
            if (context.Buffer.Length == 0)
            {
                context.Submit(SubmitAction.Cancel);
            }
            else
            {
                context.Buffer.Clear(context.Buffer.Position, 1);
            }
        }
    }
}
