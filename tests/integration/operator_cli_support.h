#pragma once

// Running the built `crmsync` as an operator would, for the operator command tests.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/service_env.h"

namespace crmsync::testing {

struct CliResult {
  int code = -1;
  std::string out;  // stdout only
  std::string all;  // stdout and stderr
};

// Runs the built crmsync; stdout and stderr apart (stderr to a temporary file).
inline CliResult crmsync_cli(const std::vector<std::string>& args) {
  std::string err_file = std::filesystem::temp_directory_path() / testing::unique_name("cli_err");
  std::vector<std::string> sh_args{"-c", "exec \"$0\" \"$@\" 2>" + err_file, CRMSYNC_BINARY};
  sh_args.insert(sh_args.end(), args.begin(), args.end());
  ChildProcess process("/bin/sh", sh_args);
  CliResult result;
  result.code = process.wait_for_exit(std::chrono::seconds(300)).value_or(-1);
  result.out = process.output();
  std::ifstream err(err_file);
  std::string err_text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  std::filesystem::remove(err_file);
  result.all = result.out + err_text;
  return result;
}

inline rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  EXPECT_FALSE(doc.HasParseError()) << "not JSON: " << text;
  return doc;
}

}  // namespace crmsync::testing
