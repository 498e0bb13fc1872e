// Unit tests of section 12, what dock does before the command: the passwd and group
// parser behind --user, the --env-file parser and the --template renderer.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace dock;

namespace {

constexpr std::string_view kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "app:x:1000:1000:The App,,,:/home/app:/bin/sh\r\n"
    "broken line\n"
    "nohome:x:1001:1001:::/bin/sh\n"
    "web:x:33:33::/var/www:/usr/sbin/nologin";
constexpr std::string_view kGroup =
    "root:x:0:\n"
    "app:x:1000:\n"
    "audio:x:29:app,web\n"
    "video:x:44:web,app\n"
    "www-data:x:33:\n"
    "bad:x:notanumber:app\n";

Identity who(std::string_view spec) {
  Identity id;
  auto err = resolve_identity(spec, kPasswd, kGroup, id);
  INFO(spec << ": " << (err ? *err : ""));
  REQUIRE_FALSE(err);
  return id;
}

std::string who_error(std::string_view spec) {
  Identity id;
  auto err = resolve_identity(spec, kPasswd, kGroup, id);
  return err ? *err : "(accepted)";
}

}  // namespace

TEST_CASE("passwd and group lines", "[user]") {
  auto p = parse_passwd_line("app:x:1000:1000:The App:/home/app:/bin/sh");
  REQUIRE(p);
  CHECK(p->name == "app");
  CHECK(p->uid == 1000);
  CHECK(p->gid == 1000);
  CHECK(p->home == "/home/app");
  CHECK_FALSE(parse_passwd_line("app:x:1000:1000:/home/app:/bin/sh"));  // six fields
  CHECK_FALSE(parse_passwd_line("app:x:-1:1000::/:/bin/sh"));
  CHECK_FALSE(parse_passwd_line("app:x:4294967295:0::/:/bin/sh"));  // (uid_t)-1 is "no id"
  CHECK_FALSE(parse_passwd_line(":x:1:1::/:/bin/sh"));
  CHECK_FALSE(parse_passwd_line(""));
  auto g = parse_group_line("audio:x:29:app,,web");
  REQUIRE(g);
  CHECK(g->gid == 29);
  CHECK(g->members == std::vector<std::string>{"app", "web"});
  CHECK(parse_group_line("empty:x:7:")->members.empty());
  CHECK_FALSE(parse_group_line("audio:x:29"));
}

TEST_CASE("--user: names, numbers, groups, HOME", "[user]") {
  Identity app = who("app");
  CHECK(app.uid == 1000);
  CHECK(app.gid == 1000);
  CHECK(app.groups == std::vector<gid_t>{1000, 29, 44});  // primary first, then those that list it
  CHECK(app.home == "/home/app");
  Identity web = who("web");
  CHECK(web.groups == std::vector<gid_t>{33, 29, 44});
  Identity only = who("app:audio");
  CHECK(only.gid == 29);
  CHECK(only.groups == std::vector<gid_t>{29});
  Identity numeric = who("1000");  // in passwd: its entry
  CHECK(numeric.home == "/home/app");
  CHECK(numeric.groups == std::vector<gid_t>{1000, 29, 44});
  Identity random = who("1000650000");  // OpenShift: no entry needed, and group 0 (as Docker, runc, gosu)
  CHECK(random.uid == 1000650000);
  CHECK(random.gid == 0);
  CHECK(random.groups == std::vector<gid_t>{0});
  CHECK(random.home.empty());
  Identity both = who("5000:5001");
  CHECK(both.uid == 5000);
  CHECK(both.gid == 5001);
  CHECK(who("nohome").home.empty());
  CHECK(who("app:0").gid == 0);
  CHECK(who_error("nobody-here") == "user nobody-here is not in /etc/passwd");
  CHECK(who_error("app:nogroup") == "group nogroup is not in /etc/group");
  CHECK(who_error("") == "no user");
  CHECK(who_error("app:") == "no group after ':'");
  CHECK(who_error(":app") == "no user");
}

TEST_CASE("--env-file lines", "[env-file]") {
  EnvPairs got;
  REQUIRE_FALSE(parse_env_file("# comment\n\nA=1\nexport B=two words\n  C=\"quoted # not a comment\"\n"
                               "D='single'\nE=\nF=a=b\nH=$HOME\r\nI=\"\"\n",
                               got));
  const EnvPairs want{{"A", "1"},          {"B", "two words"}, {"C", "quoted # not a comment"},
                      {"D", "single"},     {"E", ""},          {"F", "a=b"},
                      {"H", "$HOME"},      {"I", ""}};
  CHECK(got == want);
  auto error = [](std::string_view text) {
    EnvPairs p;
    auto err = parse_env_file(text, p);
    return err ? *err : "(accepted)";
  };
  CHECK(error("A=1\nnot a pair\n") == "line 2: not NAME=VALUE");
  CHECK(error("1A=x") == "line 1: not NAME=VALUE");
  CHECK(error("A B=x") == "line 1: not NAME=VALUE");
  CHECK(error("=x") == "line 1: not NAME=VALUE");
  CHECK(error("\n\nA=\"open") == "line 3: A: unmatched quote");
  CHECK(error("A='") == "line 1: A: unmatched quote");
  CHECK(error("export ") == "line 1: not NAME=VALUE");  // found by fuzz_before: it read past the line
  CHECK(error("export   ") == "line 1: not NAME=VALUE");
  CHECK(error("A=\"x'") == "line 1: A: unmatched quote");
}

TEST_CASE("--template: {{NAME}}, {{NAME:-default}} and {{NAME-default}}, nothing else", "[template]") {
  const std::map<std::string, std::string, std::less<>> env{{"HOST", "db"}, {"PORT", "5432"}, {"EMPTY", ""},
                                                          {"BRACES", "{{HOST}}"}};
  auto lookup = [&](std::string_view name) -> std::optional<std::string_view> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  auto render = [&](std::string_view src) {
    std::string out;
    auto err = render_template(src, lookup, out);
    return err ? "error: " + *err : out;
  };
  CHECK(render("host={{HOST}}:{{ PORT }}") == "host=db:5432");
  CHECK(render("{{MISSING:-fallback}} {{ MISSING:-with space }}") == "fallback with space");
  CHECK(render("{{EMPTY:-x}}|") == "x|");  // :- as in the shell: unset or empty
  CHECK(render("{{EMPTY-x}}|{{MISSING-y}}|{{ MISSING -z }}") == "|y|z");  // - only when unset
  CHECK(render("{{BRACES}}") == "{{HOST}}");  // a value is not rendered again
  CHECK(render("{{ .Go }} {{#if}} {{}} {{ }} {{a b}} $host ${HOST}") == "{{ .Go }} {{#if}} {{}} {{ }} {{a b}} $host ${HOST}");
  CHECK(render("{{{HOST}}}") == "{db}");  // the first brace is text
  CHECK(render("open {{HOST") == "open {{HOST");
  CHECK(render("a\nb\n{{NOPE}}") == "error: line 3: NOPE is not set");
  CHECK(render("") == "");
}
