// Who the command runs as (SPEC §10, §15) through the real ./dock:
// --user (HOME, groups, what steers root), --no-new-privs, --rlimit,
// --chown.
#include "kit.hpp"

using namespace t;

TEST_CASE("--user: HOME from /etc/passwd, replacing an inherited one (as gosu); groups from /etc/group", "[before][user]") {
  std::vector<std::string> args{"env", "-u", "HOME"};
  for (const auto& a : dock_command()) args.push_back(a);
  for (const std::string a : {"--user", "root:daemon", "--", "sh", "-c", "echo $HOME; id -G"}) args.push_back(a);
  Proc p = Proc::start(args);
  p.close_in();
  p.drain();
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf == "/root\n1\n");  // USER:GROUP: that group only
  // Docker sets HOME=/root in every container: --user replaces it, as gosu and su-exec do.
  Proc replaced = run_dock({"--user", "nobody", "--", "sh", "-c", "echo $HOME"}, {.env = {"HOME=/root"}});
  CHECK(replaced.out_buf == "/nonexistent\n");
  Proc no_home = run_dock({"--user", "4242", "--", "sh", "-c", "echo $HOME"}, {.env = {"HOME=/root"}});
  CHECK(no_home.out_buf == "/\n");  // no entry: /
  Proc number = run_dock({"--user", "4242:4343", "--", "sh", "-c", "id -u; id -G"});
  CHECK(number.exit_code() == 0);
  CHECK(number.out_buf == "4242\n4343\n");  // a number needs no entry
}

TEST_CASE("--user: a dock that is not root cannot switch, and says so", "[before][user]") {
  if (!have("setpriv")) return skip("setpriv (util-linux) is needed to run dock as nobody");
  Dir dir("before-notroot");
  const std::string marker = dir.path + "/ran";
  REQUIRE(chmod(dir.path.c_str(), 0777) == 0);
  auto as_nobody = [&](const std::string& user) {
    std::vector<std::string> args{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", dock_path(),
                                  "--user", user, "--", "touch", marker};
    Proc p = Proc::start(args);
    p.close_in();
    p.drain();
    p.wait_exit();
    return p;
  };
  Proc root = as_nobody("root");
  CHECK(root.exit_code() == 1);
  CHECK(root.err_buf == "dock: --user: dock runs as uid 65534, not root: it cannot switch to uid 0 "
                        "(run dock as root, or drop --user)\n");
  CHECK(access(marker.c_str(), F_OK) != 0);
  Proc same = as_nobody("nobody");  // already that user: nothing to switch
  CHECK(same.exit_code() == 0);
  CHECK(access(marker.c_str(), F_OK) == 0);
}

TEST_CASE("--no-new-privs: the command and its children gain no privileges", "[before][user]") {
  Proc p = run_dock({"--no-new-privs", "--user", "nobody", "--", "grep", "NoNewPrivs", "/proc/self/status"});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf.find("NoNewPrivs:\t1") != std::string::npos);
  Proc without = run_dock({"--", "grep", "NoNewPrivs", "/proc/self/status"});
  CHECK(without.out_buf.find("NoNewPrivs:\t0") != std::string::npos);
}

TEST_CASE("--user nobody with --bind-port and --ready-file", "[before][user][bind-port][pid1]") {
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "before-bind-1" : "before-bind");
  const std::string ready = dir.path + "/ready";
  const int port = free_port();
  Proc dock = start_dock({"--user", "nobody", "--bind-port", std::to_string(port), "--ready-file", ready, "--",
                          helper(), "listen", std::to_string(port), "200"},
                         {.pid1 = pid1});
  REQUIRE(dock.wait_out("listening"));
  CHECK(wait_file_contains(ready, "\n", 3000));
  dock.send("exit 0\n");
  CHECK(dock.exit_code() == 0);
  dock.drain();
  CHECK(dock.err_buf.empty());
}

TEST_CASE("review 5: with --user, an env file or setup program the user could change is refused", "[review][user][setup]") {
  Dir dir("review-5");
  const std::string d = dir.path + "/";
  write(d + "owned.env", "A=1\n");
  REQUIRE(chown((d + "owned.env").c_str(), kNobody, kNobody) == 0);
  Proc owned = run_dock({"--user", "nobody", "--env-file", d + "owned.env", "--", "echo", "ran"});
  CHECK(owned.exit_code() == 1);
  CHECK(owned.out_buf.empty());
  CHECK(owned.err_buf == "dock: --env-file: " + d + "owned.env: --user nobody could change it (it owns it), so root will not use it\n");

  write(d + "shared.env", "A=1\n", 0666);
  Proc shared = run_dock({"--user", "nobody", "--env-file", d + "shared.env", "--", "echo", "ran"});
  CHECK(shared.exit_code() == 1);
  CHECK(shared.err_buf.find("(everyone may write it)") != std::string::npos);

  Dir service("review-5-service");
  REQUIRE(chown(service.path.c_str(), kNobody, kNobody) == 0);
  script(service.path + "/setup", "echo setup ran\n");
  Proc setup = run_dock({"--user", "nobody", "--setup", service.path + "/setup", "--", "echo", "ran"});
  CHECK(setup.exit_code() == 1);
  CHECK(setup.out_buf.empty());
  CHECK(setup.err_buf == "dock: --setup: " + service.path + "/setup: --user nobody could replace it (it owns " +
                             service.path + "), so root will not use it\n");

  // Root's files in root's directories (and /tmp, sticky) are fine.
  write(d + "root.env", "A=1\n");
  script(d + "setup", "echo setup ran\n");
  Proc fine = run_dock({"--user", "nobody", "--env-file", d + "root.env", "--setup", d + "setup", "--", "sh", "-c", "echo A=$A"});
  CHECK(fine.exit_code() == 0);
  CHECK(fine.out_buf == "setup ran\nA=1\n");
}

TEST_CASE("review 9: --user with a number and no entry has group 0, as Docker and gosu give it", "[review][user][pid1]") {
  const bool pid1 = each_mode();
  Proc p = run_dock({"--user", "4242", "--", "sh", "-c", "id -u; id -g; id -G"}, {.pid1 = pid1});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf == "4242\n0\n0\n");
  // A name gets its supplementary groups too (the first --user case of
  // behaviour_environment checks `id -u` and `id -g` only, which a missing
  // setgroups would pass for a user without any).
  Dir dir(pid1 ? "review-9-1" : "review-9");
  write(dir.path + "/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
  write(dir.path + "/group", "root:x:0:\napp:x:1000:\naudio:x:29:app\nvideo:x:44:other,app\n");
  auto files = with_file(dir.path + "/passwd", "/etc/passwd");
  for (const auto& a : with_file(dir.path + "/group", "/etc/group")) files.push_back(a);
  Proc named = run_wrapped(files, {"--user", "app", "--", "sh", "-c", "id -u; id -g; id -G"}, {.pid1 = pid1});
  CHECK(named.exit_code() == 0);
  CHECK(named.out_buf == "1000\n1000\n1000 29 44\n");
}

TEST_CASE("--rlimit NAME=SOFT[:HARD] sets the command's limits before it becomes --user", "[before][rlimit][pid1]") {
  const bool pid1 = each_mode();
  Proc p = run_dock({"--rlimit", "nofile=1000:2000", "--rlimit", "core=0", "--user", "nobody", "--", "sh", "-c",
                     "ulimit -n; ulimit -Hn; ulimit -c"},
                    {.pid1 = pid1});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf == "1000\n2000\n0\n");
  Proc env = run_dock({"--", "sh", "-c", "ulimit -n"}, {.pid1 = pid1, .env = {"DOCK_RLIMIT=nofile=512,core=0"}});
  CHECK(env.out_buf == "512\n");
  // Above what the kernel allows (nr_open): one line, exit 1, nothing run.
  Proc high = run_dock({"--rlimit", "nofile=unlimited", "--", "echo", "ran"}, {.pid1 = pid1});
  CHECK(high.exit_code() == 1);
  CHECK(high.out_buf.empty());
  CHECK(high.err_buf == "dock: --rlimit nofile=unlimited:unlimited: Operation not permitted\n");
  Proc bad = run_dock({"--rlimit", "files=10", "--", "true"}, {.pid1 = pid1});
  CHECK(bad.exit_code() == 2);
  CHECK(bad.err_buf.rfind("dock: --rlimit: 'files=10' is not NAME=SOFT[:HARD]", 0) == 0);
}

TEST_CASE("--chown PATH: created when missing, everything under it the user's; no symlink followed, no mount entered", "[before][chown][field]") {
  Dir dir("chown");
  const std::string data = dir.path + "/data";
  REQUIRE(mkdir(data.c_str(), 0755) == 0);
  REQUIRE(mkdir((data + "/sub").c_str(), 0755) == 0);
  write(data + "/sub/file", "x");
  write(dir.path + "/victim", "root's\n");  // outside PATH, linked from inside
  REQUIRE(symlink((dir.path + "/victim").c_str(), (data + "/sub/link").c_str()) == 0);
  REQUIRE(mkdir((data + "/mnt").c_str(), 0755) == 0);
  REQUIRE(mount("tmpfs", (data + "/mnt").c_str(), "tmpfs", 0, "size=64k") == 0);
  write(data + "/mnt/other", "y");
  const std::string fresh = dir.path + "/new/deeper/cache";
  Proc p = run_dock({"--user", "nobody", "--chown", data, "--chown", fresh, "--", "sh", "-c",
                     "echo ok > " + data + "/sub/written && echo ran"});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf == "ran\n");
  auto owner = [](const std::string& path) {
    struct stat sb {};
    REQUIRE(lstat(path.c_str(), &sb) == 0);
    return sb.st_uid;
  };
  CHECK(owner(data) == kNobody);
  CHECK(owner(data + "/sub") == kNobody);
  CHECK(owner(data + "/sub/file") == kNobody);
  CHECK(owner(data + "/sub/link") == 0);       // the link itself is not changed
  CHECK(owner(dir.path + "/victim") == 0);     // nor what it points at
  CHECK(owner(data + "/mnt/other") == 0);      // another mount: not entered
  CHECK(owner(fresh) == kNobody);
  struct stat sb {};
  REQUIRE(stat(fresh.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 07777) == 0750);
  CHECK(owner(dir.path + "/new") == 0);  // missing parents: root's
  umount2((data + "/mnt").c_str(), MNT_DETACH);
  Proc no_user = run_dock({"--chown", data, "--", "true"});
  CHECK(no_user.exit_code() == 2);
  CHECK(no_user.err_buf == "dock: --chown: needs --user (whose the files become)\n");
  CHECK(run_dock({"--user", "nobody", "--chown", "/", "--", "true"}).exit_code() == 2);
}
