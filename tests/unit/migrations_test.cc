#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "state/migrations.h"

namespace crmsync::state {
namespace {

using ::testing::HasSubstr;

TEST(Migrations, EmbeddedListIsWellFormed) {
  const auto& migrations = embedded_migrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(find_migration_list_problem(migrations), std::nullopt);
  EXPECT_EQ(migrations.front().version, 1);
  EXPECT_EQ(migrations.front().name, "installation");
}

TEST(Migrations, EveryEmbeddedMigrationIsSchemaQualified) {
  // A migration that forgot {schema} would write into whatever search_path points at.
  for (const Migration& migration : embedded_migrations()) {
    EXPECT_THAT(std::string(migration.sql), HasSubstr("{schema}.")) << migration.name;
  }
}

TEST(Migrations, GapsDuplicatesAndEmptiesAreFound) {
  std::vector<Migration> gap = {{1, "a", "SELECT 1"}, {3, "c", "SELECT 1"}};
  EXPECT_THAT(find_migration_list_problem(gap).value_or(""), HasSubstr("expected version 2"));
  std::vector<Migration> duplicate = {{1, "a", "SELECT 1"}, {1, "b", "SELECT 1"}};
  EXPECT_THAT(find_migration_list_problem(duplicate).value_or(""), HasSubstr("expected version 2"));
  std::vector<Migration> not_from_one = {{2, "b", "SELECT 1"}};
  EXPECT_THAT(find_migration_list_problem(not_from_one).value_or(""),
              HasSubstr("expected version 1"));
  std::vector<Migration> empty_sql = {{1, "a", " \n\t"}};
  EXPECT_THAT(find_migration_list_problem(empty_sql).value_or(""), HasSubstr("empty SQL"));
  std::vector<Migration> empty_name = {{1, "", "SELECT 1"}};
  EXPECT_THAT(find_migration_list_problem(empty_name).value_or(""), HasSubstr("empty name"));
}

TEST(Migrations, ChecksumIsStableAndSensitiveToEveryByte) {
  EXPECT_EQ(migration_checksum("CREATE TABLE t ()"), migration_checksum("CREATE TABLE t ()"));
  EXPECT_NE(migration_checksum("CREATE TABLE t ()"), migration_checksum("CREATE TABLE t ( )"));
  EXPECT_EQ(migration_checksum(""), "cbf29ce484222325");  // FNV-1a 64 offset basis
  EXPECT_EQ(migration_checksum("a"), "af63dc4c8601ec8c");  // FNV-1a 64 of "a"
}

TEST(Migrations, SchemaPlaceholderIsReplacedEverywhere) {
  EXPECT_EQ(render_migration_sql("CREATE TABLE {schema}.a (); GRANT USAGE ON SCHEMA {schema}", "s1"),
            "CREATE TABLE s1.a (); GRANT USAGE ON SCHEMA s1");
  EXPECT_EQ(render_migration_sql("no placeholder", "s1"), "no placeholder");
}

TEST(Migrations, SchemaNamesMustNeedNoQuoting) {
  EXPECT_TRUE(is_valid_schema_name("crmsync"));
  EXPECT_TRUE(is_valid_schema_name("crmsync_test_12"));
  EXPECT_TRUE(is_valid_schema_name("_private"));
  for (const char* bad : {"", "Crmsync", "1abc", "a-b", "a.b", "a b", "pg_catalog",
                          "x\"; DROP TABLE y; --"}) {
    EXPECT_FALSE(is_valid_schema_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_schema_name(std::string(64, 'a')));
}

}  // namespace
}  // namespace crmsync::state
