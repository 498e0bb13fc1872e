// Writes dock.1, the manual page, from the option table that --help is
// made of (dock.cpp's kOptions), so the two cannot drift apart.
//   g++ -std=c++20 -o tools/mkman tools/mkman.cpp && tools/mkman >dock.1
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <cstdio>

using namespace dock;

namespace {

// roff: a line must not start with '.' or '\''; backslashes and '-' are escaped.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

// The help text's lines joined into one paragraph.
std::string paragraph(std::string_view help) {
  std::string out;
  for (char c : help) out += c == '\n' ? ' ' : c;
  return roff(out);
}

}  // namespace

int main() {
  std::string page;
  page += ".TH DOCK 1 \"\" \"dock " + std::string(kVersion) + "\" \"User Commands\"\n";
  page += ".SH NAME\ndock \\- a micro init for Linux containers\n";
  page += ".SH SYNOPSIS\n.B dock\n[\\fIOPTIONS\\fR] [\\fB\\-\\-\\fR] \\fICOMMAND\\fR [\\fIARG\\fR...]\n.br\n"
          ".B dock \\-\\-check\n[\\fIPATH\\fR|\\fIURL\\fR] [\\fB\\-\\-check\\-timeout\\fR \\fIDURATION\\fR]\n";
  page += ".SH DESCRIPTION\n"
          "Runs COMMAND as the one child of an init: forwards every signal to its process group, "
          "reaps every zombie, and when COMMAND exits terminates what is left (SIGTERM, then SIGKILL "
          "after the kill timeout) and exits with COMMAND's status (128+N when signal N killed it).\n"
          ".PP\nEvery option can also be given as a DOCK_* variable; a flag beats its variable, "
          "and an empty variable counts as unset.\n";
  page += ".SH OPTIONS\n";
  for (const auto& o : kOptions) {
    page += ".TP\n";
    if (o.short_name != 0) page += std::string("\\fB\\-") + o.short_name + "\\fR, ";
    page += "\\fB" + roff("--" + std::string(o.name)) + "\\fR";
    if (!o.arg.empty()) page += (o.takes == Takes::Optional ? "" : " ") + std::string("\\fI") + roff(o.arg) + "\\fR";
    page += "\n" + paragraph(o.help);
    if (o.takes != Takes::Meta) page += " (variable: \\fB" + roff(variable_of(o.name)) + "\\fR)";
    page += "\n";
  }
  page += ".SH EXIT STATUS\n"
          "COMMAND's (through \\fB\\-\\-exit\\-map\\fR); 128+N if signal N killed it; 1 setup failure; "
          "2 bad usage; 126 COMMAND not executable; 127 COMMAND not found.\n";
  page += ".SH EXAMPLES\n.nf\n"
          "ENTRYPOINT [\"dock\", \"\\-\\-\"]\n"
          "dock \\-\\-kill\\-timeout 30s \\-\\- postgres \\-D /data\n"
          "dock \\-\\-stop\\-delay 5s \\-\\-ready\\-file /tmp/ready \\-\\-bind\\-port 8080 \\-\\- web\n"
          "dock \\-\\-check /tmp/ready\n.fi\n";
  page += ".SH SEE ALSO\nThe README of the dock sources.\n";
  return std::fwrite(page.data(), 1, page.size(), stdout) == page.size() ? 0 : 1;
}
