#!/usr/bin/env python3
"""Writes a man page (man(7) macros) for a Swift ArgumentParser program from its own
description of itself (`PROGRAM --experimental-dump-help`): the synopsis, every option with
its help, and each subcommand in a section of its own, so the page cannot drift from --help.
Usage: scripts/manpage.py PROGRAM SECTION VERSION DATE > PROGRAM.SECTION
"""
import json
import subprocess
import sys


def roff(text):
    """Escapes text for roff: backslashes, and a leading dot or quote that would start a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def option_names(argument):
    names = []
    for name in argument.get("names", []):
        dashes = "-" if name["kind"] in ("short", "longWithSingleDash") else "--"
        names.append(f"\\fB{roff(dashes + name['name'])}\\fR")
    if not names:
        return f"\\fI{roff(argument['valueName'])}\\fR"
    value = f" \\fI{roff(argument['valueName'])}\\fR" if argument["kind"] == "option" else ""
    return ", ".join(n + value for n in names)


def describe(command, path, out):
    """Writes one command: its abstract, discussion and arguments, then its subcommands."""
    if command.get("abstract"):
        out.append(roff(command["abstract"]))
        out.append(".PP")
    if command.get("discussion"):
        out.append(roff(command["discussion"]))
        out.append(".PP")
    for argument in command.get("arguments", []):
        if not argument.get("shouldDisplay", True):
            continue
        # --help and --version belong to the program, not to each subcommand.
        if len(path) > 1 and argument.get("preferredName", {}).get("name") in ("help", "version"):
            continue
        out.append(".TP")
        out.append(option_names(argument))
        help_text = argument.get("abstract", "")
        if argument.get("defaultValue") not in (None, "", "false"):
            help_text += f" (default: {argument['defaultValue']})"
        if argument.get("allValues"):
            help_text += " One of: " + ", ".join(argument["allValues"]) + "."
        if argument.get("discussion"):
            help_text += "\n" + argument["discussion"]
        out.append(roff(help_text.strip()))
    for sub in command.get("subcommands", []):
        if sub["commandName"] == "help" or not sub.get("shouldDisplay", True):
            continue
        name = path + [sub["commandName"]]
        out.append(f'.SS "{roff(" ".join(name))}"')
        describe(sub, name, out)


def main():
    program, section, version, date = sys.argv[1:5]
    info = json.loads(subprocess.run([program, "--experimental-dump-help"], check=True, capture_output=True, text=True).stdout)
    command = info["command"]
    command["subcommands"] = [s for s in command.get("subcommands", []) if s["commandName"] != "help"]
    name = command["commandName"]
    out = [
        f'.TH {name.upper()} {section} "{date}" "{name} {version}" "Health Helper"',
        ".SH NAME",
        f"{name} \\- {roff(command.get('abstract', ''))}",
        ".SH SYNOPSIS",
        f"\\fB{name}\\fR" + (" \\fICOMMAND\\fR" if command.get("subcommands") else "") + " [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
    ]
    body = []
    top = dict(command)
    top.pop("abstract", None)
    top.pop("subcommands", None)
    describe(top, [name], body)
    out += body
    if command.get("subcommands"):
        out.append(".SH COMMANDS")
        sub_body = []
        describe({"subcommands": command["subcommands"]}, [name], sub_body)
        out += sub_body
    out += [
        ".SH FILES",
        ".TP",
        "\\fI/etc/health\\-helper/hhd.toml\\fR",
        "hhd's configuration: every key, its default and what it allows.",
        ".TP",
        "\\fI/etc/health\\-helper/enrollment.json\\fR",
        "The relay URL and device token written by \\fBhhctl enroll\\fR (the unit's credential).",
        ".TP",
        "\\fI/run/health\\-helper/hhd.sock\\fR",
        "The control socket; members of the \\fBhealth\\-helper\\fR group may use it.",
        ".SH SEE ALSO",
        "\\fBhhd\\fR(1), \\fBhhctl\\fR(1), \\fBsystemctl\\fR(1), \\fI/usr/share/doc/health\\-helper\\-kiosk/\\fR",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
