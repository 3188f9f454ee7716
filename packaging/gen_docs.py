"""Man pages and bash completion for ha-lizard and ha-cfg, generated from their argparse parsers.

Why: written by hand they drift from the code; built from the parsers at
`make rpm` time they always list the options and subcommands that exist.
Usage: python packaging/gen_docs.py OUTDIR (writes man8/*.8 and completions/*).
"""
import argparse
import os
import sys

SUPPRESS = argparse.SUPPRESS


def parsers():
    """{program: its top-level parser}."""
    from halizard.cli import ha_cfg, ha_lizard

    return {"ha-lizard": ha_lizard.build_parser(), "ha-cfg": ha_cfg.build_parser()[0]}


def _subparsers(parser):
    """[(name, help, subparser)] of the first subparsers action, in declaration order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            return [(name, helps.get(name) or "", sub) for name, sub in action.choices.items()]
    return []


def _options(parser):
    """[(flags, metavar, help)] of the visible optional arguments, help included."""
    found = []
    for action in parser._actions:
        if not action.option_strings or action.help == SUPPRESS:
            continue
        metavar = ""
        if action.nargs != 0:
            metavar = action.metavar or (action.dest.upper() if not action.choices else
                                         "{%s}" % ",".join(action.choices))
        found.append((list(action.option_strings), metavar, action.help or ""))
    return found


def _positionals(parser):
    return [action for action in parser._actions
            if not action.option_strings and not isinstance(action, argparse._SubParsersAction)]


def _roff(text):
    lines = []
    for line in str(text).splitlines():
        line = line.replace("\\", "\\\\").replace("-", "\\-")
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _option_block(options):
    out = []
    for flags, metavar, text in options:
        out.append(".TP\n\\fB%s\\fR%s\n%s" % (_roff(", ".join(flags)), " \\fI%s\\fR" % _roff(metavar)
                                              if metavar else "", _roff(text or "")))
    return out


def manpage(prog, parser, version):
    """The roff text of section 8 page for `prog`."""
    out = ['.TH %s 8 "" "ha-lizard %s" "System Administration"' % (prog.upper(), version),
           ".SH NAME", "%s \\- %s" % (prog, _roff(parser.description or prog)),
           ".SH SYNOPSIS", ".nf", _roff(parser.format_usage().replace("usage: ", "").strip()), ".fi",
           ".SH OPTIONS"]
    out += _option_block(_options(parser))
    commands = _subparsers(parser)
    if commands:
        out.append(".SH COMMANDS")
        for name, text, sub in commands:
            if sub.add_help is False:
                out.append(".TP\n\\fB%s\\fR\n%s" % (_roff(name), _roff(text)))
                continue
            args = " ".join(action.metavar or action.dest for action in _positionals(sub))
            out.append(".TP\n\\fB%s\\fR%s\n%s" % (_roff(name), " \\fI%s\\fR" % _roff(args) if args else "",
                                                   _roff(text)))
            options = [o for o in _options(sub) if o[0] != ["-h", "--help"]]
            if options:
                out.append(".RS")
                out += _option_block(options)
                out.append(".RE")
            nested = _subparsers(sub)
            for inner, inner_text, inner_sub in nested:
                out.append(".RS\n.TP\n\\fB%s %s\\fR\n%s" % (_roff(name), _roff(inner), _roff(inner_text)))
                inner_options = [o for o in _options(inner_sub) if o[0] != ["-h", "--help"]]
                out += _option_block(inner_options)
                out.append(".RE")
    if parser.epilog:
        out += [".SH NOTES", ".nf", _roff(parser.epilog.strip()), ".fi"]
    out += [".SH SEE ALSO", "ha-lizard(8), ha-cfg(8); /usr/share/doc/ha-lizard/install.md"]
    return "\n".join(out) + "\n"


def _words(options):
    return [flag for flags, _m, _t in options for flag in flags]


def completion(prog, parser):
    """A bash completion script: subcommands first, then the options of the chosen one."""
    func = "_" + prog.replace("-", "_")
    top = _words(_options(parser))
    commands = _subparsers(parser)
    with_value = sorted({flag for flags, metavar, _t in _options(parser) for flag in flags if metavar})
    lines = ["# bash completion for %s; generated from its argparse parser by packaging/gen_docs.py" % prog,
             "%s() {" % func,
             '    local cur prev cmd="" i',
             '    cur="${COMP_WORDS[COMP_CWORD]}"',
             '    prev="${COMP_WORDS[COMP_CWORD-1]}"',
             '    case "$prev" in %s) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;; esac'
             % ("|".join(with_value) or "--root"),
             '    for ((i = 1; i < COMP_CWORD; i++)); do',
             '        case "${COMP_WORDS[i]}" in',
             '            %s) cmd="${COMP_WORDS[i]}"; break ;;' % "|".join(name for name, _t, _s in commands),
             "        esac",
             "    done",
             '    case "$cmd" in',
             '        "") COMPREPLY=($(compgen -W "%s" -- "$cur")) ;;'
             % " ".join(top + [name for name, _t, _s in commands])]
    for name, _text, sub in commands:
        words = [] if sub.add_help is False else _words(_options(sub))
        words += [inner for inner, _t, _s in _subparsers(sub)]
        for action in _positionals(sub):
            if action.choices:
                words += list(action.choices)
        lines.append('        %s) COMPREPLY=($(compgen -W "%s" -- "$cur")) ;;' % (name, " ".join(words)))
    lines += ["    esac", "}", "complete -F %s %s" % (func, prog)]
    return "\n".join(lines) + "\n"


def write_all(outdir):
    """Write man8/<prog>.8 and completions/<prog> under outdir; returns the paths written."""
    from halizard import __version__

    written = []
    for prog, parser in parsers().items():
        for sub, name, text in (("man8", prog + ".8", manpage(prog, parser, __version__)),
                                ("completions", prog, completion(prog, parser))):
            os.makedirs(os.path.join(outdir, sub), exist_ok=True)
            path = os.path.join(outdir, sub, name)
            with open(path, "w") as handle:
                handle.write(text)
            written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(sys.argv[1]):
        print(written_path)
