// libFuzzer target: parse_args over argv and DOCK_* variables. The input is
// NUL-separated words; a word holding '=' and starting with DOCK_ goes to
// the environment, any other to argv. Whatever the words, parsing ends in
// exactly one of run / help / version / fail, a failure says why in one
// line, and a run has a command that points into argv.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> words(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) words.emplace_back();
    else words.back() += char(data[i]);
  }
  std::vector<std::string> args{"dock"}, vars{"PATH=/bin", "HOME=/"};
  for (auto& w : words)
    (w.rfind("DOCK_", 0) == 0 && w.find('=') != std::string::npos ? vars : args).push_back(w);
  std::vector<char*> argv, env;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& v : vars) env.push_back(v.data());
  env.push_back(nullptr);

  Parsed p = parse_args({argv.data(), argv.size() - 1}, {env.data(), env.size() - 1});
  switch (p.action) {
    case Parsed::Action::Fail:
      if (p.error.empty() || p.error.find('\n') != std::string::npos) std::abort();
      break;
    case Parsed::Action::Run: {
      const Config& c = p.config;
      if (c.command == nullptr || c.command[0] == nullptr) std::abort();
      bool inside = false;
      for (char* const* a = argv.data(); *a != nullptr; ++a) inside = inside || a == c.command;
      if (!inside) std::abort();
      if (c.child_env.empty() || c.child_env.back() != nullptr) std::abort();
      // The child's environment is dock's minus dock's own variables:
      // PATH and HOME always pass, and nothing is made up.
      size_t passed = 0;
      for (size_t i = 0; i + 1 < c.child_env.size(); ++i) {
        bool ours = false;
        for (char* e : env) ours = ours || e == c.child_env[i];
        if (!ours) std::abort();
        passed += c.child_env[i] == env[0] || c.child_env[i] == env[1];
      }
      if (passed != 2) std::abort();
      break;
    }
    case Parsed::Action::Help:
    case Parsed::Action::Version:
      break;
  }
  return 0;
}
