// A temporary data folder per test, WAL options for it, and raw LMDB access
// for tests that damage the log on purpose.
#pragma once

#include <gtest/gtest.h>
#include <lmdb.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "storage/wal/format.h"
#include "storage/wal/wal.h"

namespace admit::storage::wal::testing {

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "admit-wal-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Options options(std::uint32_t shard = 0, std::uint32_t shards = 1) const {
    Options o;
    o.dir = dir_;
    o.shard = shard;
    o.shards = shards;
    o.map_size_bytes = std::size_t{8} << 20;
    o.log = [](const std::string&) {};
    return o;
  }

  std::unique_ptr<ShardWal> open_wal(const Options& o) {
    std::string why;
    auto wal = ShardWal::open(o, &why);
    EXPECT_NE(wal, nullptr) << why;
    return wal;
  }

  // Opens and recovers into `machine`; nullptr (with a test failure) if either fails.
  std::unique_ptr<ShardWal> open_recovered(const Options& o, StateMachine& machine,
                                           RecoveryReport* report = nullptr) {
    auto wal = open_wal(o);
    if (wal == nullptr) return nullptr;
    RecoveryReport local;
    std::string why;
    const bool ok = wal->recover(machine, {}, report != nullptr ? report : &local, &why);
    EXPECT_TRUE(ok) << why;
    return ok ? std::move(wal) : nullptr;
  }

  // Runs `edit` in a write transaction on shard 0's `log` database. The
  // shard's ShardWal must be closed (one environment per process).
  void edit_log(const std::function<void(MDB_txn*, MDB_dbi)>& edit, std::uint32_t shard = 0) {
    MDB_env* env;
    ASSERT_EQ(mdb_env_create(&env), MDB_SUCCESS);
    ASSERT_EQ(mdb_env_set_maxdbs(env, named_dbs_max), MDB_SUCCESS);
    ASSERT_EQ(mdb_env_open(env, shard_path(dir_, shard).c_str(), 0, 0644), MDB_SUCCESS);
    MDB_txn* txn;
    MDB_dbi log;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
    ASSERT_EQ(mdb_dbi_open(txn, log_db_name, 0, &log), MDB_SUCCESS);
    edit(txn, log);
    EXPECT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
    mdb_env_close(env);
  }

  std::filesystem::path dir_;
};

}  // namespace admit::storage::wal::testing
