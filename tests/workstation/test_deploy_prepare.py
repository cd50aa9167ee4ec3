"""deploy/jetson/prepare.sh against the stand-in nvpmodel/jetson_clocks (tests/fixtures/deploy/bin).

Review ../shared/reviews/deploy.md findings 3 (fan), 4 (reboot prompt, mode read back),
5 (mode by name), 6 (record tied to the boot), 7 (--store never prompts), 20 (parsing),
21 (--restore cleans up). The stand-ins copy the real tools' prompts and outputs.
"""
import os

import pytest

from deploy_board import JETPACKS, PREPARE, Board, commands, run_script


@pytest.mark.parametrize("jetpack, name, mode_id", [("jp46", "MAXN", 0), ("jp5", "MAXN", 0),
                                                     ("jp6", "MAXN_SUPER", 2), ("jp6", "maxn_super", 2)])
def test_mode_by_name_is_looked_up_in_the_boards_own_nvpmodel_conf(tmp_path, jetpack, name, mode_id):
    board = Board(tmp_path, jetpack, mode=3 if mode_id != 3 else 1)
    result = board.prepare("--mode", name)
    assert result.returncode == 0, result.stderr
    assert board.mode() == mode_id
    assert f"nvpmodel -m {mode_id} </dev/null" in commands(result.stdout)


def test_mode_0_on_jetpack_6_orin_nano_is_15w_not_maxn_super(tmp_path):
    result = Board(tmp_path, "jp6").run(PREPARE, "--list-modes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["0 15W", "1 25W", "2 MAXN_SUPER (default)", "3 7W"]


def test_a_mode_name_the_board_does_not_have_is_refused_with_its_modes(tmp_path):
    result = Board(tmp_path, "jp6").prepare("--mode", "MAXN", "--dry-run")
    assert result.returncode == 2
    assert "no power mode named 'MAXN'" in result.stderr
    assert "2 MAXN_SUPER" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_mode_number_the_board_does_not_have_is_refused(tmp_path):
    result = Board(tmp_path, "jp5").prepare("--mode", "9", "--dry-run")
    assert result.returncode == 2
    assert "power mode 9 is not in this board's /etc/nvpmodel.conf" in result.stderr


def test_prepare_then_restore_puts_mode_clocks_and_fan_back_and_leaves_no_state(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    prepared = board.prepare("--mode", "MAXN", "--fan")
    assert prepared.returncode == 0, prepared.stderr
    assert (board.mode(), board.clocks(), board.fan()) == (0, "max", "max")
    assert "power mode is now 0 (MAXN) (read back with nvpmodel -q)" in prepared.stdout
    restored = board.restore()
    assert restored.returncode == 0, restored.stderr
    assert (board.mode(), board.clocks(), board.fan()) == (2, "default", "auto")
    assert not os.path.exists(board.state)


def test_without_fan_jetson_clocks_runs_without_fan_and_the_fan_is_untouched(tmp_path):
    board = Board(tmp_path, "jp46", mode=3)
    result = board.prepare("--mode", "0")
    assert result.returncode == 0, result.stderr
    assert board.fan() == "auto" and board.clocks() == "max"
    assert "the fan keeps its own profile" in result.stdout
    assert f"env HOME={board.state} jetson_clocks" in commands(result.stdout)


def test_help_no_longer_claims_jetson_clocks_sets_the_fan_by_itself():
    text = run_script(PREPARE, "--help").stdout
    assert "fan at full speed" not in text.replace("fan at full speed (jetson_clocks --fan", "")
    assert "--fan" in text


def test_an_orin_reboot_prompt_is_never_answered_and_is_reported_as_exit_4(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    result = board.prepare("--mode", "MAXN", env={"FAKE_NVPMODEL_REBOOT": "0"})
    assert result.returncode == 4
    assert "needs a reboot" in result.stderr and "Reboot (sudo reboot), then run this again" in result.stderr
    assert "reboot" not in board.log()  # the stand-in logs "reboot" only when it read YES
    assert (board.mode(), board.clocks()) == (2, "default")  # nothing else changed
    assert not os.path.exists(board.state)  # and no record is left for the next boot
    assert "done: measure now" not in result.stdout


def test_a_mode_that_does_not_take_fails_instead_of_measuring_the_old_mode(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    result = board.prepare("--mode", "MAXN", env={"FAKE_NVPMODEL_STUCK": "0"})
    assert result.returncode == 1
    assert "exited 0 but 'nvpmodel -q' still says mode 2" in result.stderr
    assert "done: measure now" not in result.stdout
    assert board.clocks() == "default"
    assert board.restore().returncode == 0


def test_nvpmodel_errors_after_the_id_do_not_break_reading_the_mode(tmp_path):
    # As non-root, nvpmodel -q prints NVPM ERROR lines after the id (NVIDIA-AI-IOT/jetbot#49).
    board = Board(tmp_path, "jp46", uid=1000, mode=1)
    result = board.prepare("--mode", "MAXN", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "power mode now: 1 (MAXQ)" in result.stdout


def test_an_unreadable_mode_fails_with_status_1_and_changes_nothing(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    os.remove(os.path.join(board.root, "etc", "nvpmodel.conf"))  # the stand-in then prints no mode
    result = board.prepare()
    assert result.returncode == 1
    assert "could not read the power mode from 'nvpmodel -q'" in result.stderr
    assert "done: measure now" not in result.stdout


def test_store_never_prompts_when_a_clocks_file_is_left_over(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    os.makedirs(board.state)
    with open(os.path.join(board.state, "jetson_clocks.conf"), "w") as f:
        f.write("clocks:stale\n")
    result = board.prepare("--mode", "0")
    assert result.returncode == 0, result.stderr
    assert "Can I overwrite it" not in result.stdout + result.stderr
    assert board.restore().returncode == 0
    assert board.clocks() == "default"


def test_a_second_prepare_in_the_same_boot_keeps_the_first_record(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    assert board.prepare("--mode", "1").returncode == 0
    again = board.prepare("--mode", "0")
    assert again.returncode == 0, again.stderr
    assert "a record from earlier in this boot exists (power mode 2" in again.stdout
    assert sum("jetson_clocks store" in line for line in board.log()) == 1
    assert board.restore().returncode == 0
    assert board.mode() == 2


def test_a_record_from_another_boot_is_never_restored(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    assert board.prepare("--mode", "1").returncode == 0
    board.set_boot_id("00000000-0000-4000-8000-000000000001")  # a reboot later
    board.set_mode(3)  # the user set a mode by hand since
    blocked = board.prepare("--mode", "0")
    assert blocked.returncode == 1
    assert "is from another boot" in blocked.stderr and "--forget" in blocked.stderr
    restored = board.restore()
    assert restored.returncode == 0
    assert "not restoring it" in restored.stderr
    assert board.mode() == 3
    assert not os.path.exists(board.state)


def test_forget_deletes_the_record_without_restoring(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    assert board.prepare("--mode", "1").returncode == 0
    result = board.run(PREPARE, "--state-dir", board.state, "--forget")
    assert result.returncode == 0, result.stderr
    assert board.mode() == 1 and not os.path.exists(board.state)


def test_jetson_clocks_keeps_its_fan_file_in_the_record_not_in_home(tmp_path):
    board = Board(tmp_path, "jp6", mode=0)
    home = tmp_path / "home"
    home.mkdir()
    assert board.prepare("--mode", "2", "--fan", env={"HOME": str(home)}).returncode == 0
    assert os.path.exists(os.path.join(board.state, ".jetsonclocks_fan.txt"))
    assert not list(home.iterdir())
    assert board.restore(env={"HOME": "/nonexistent"}).returncode == 0
    assert board.fan() == "auto"


def test_restore_with_nothing_recorded_says_so(tmp_path):
    result = Board(tmp_path, "jp46").restore()
    assert result.returncode == 0
    assert "nothing recorded: nothing to restore" in result.stdout


@pytest.mark.parametrize("jetpack", JETPACKS)
def test_dry_run_prints_the_steps_and_changes_nothing(tmp_path, jetpack):
    board = Board(tmp_path, jetpack, mode=1)
    result = board.prepare("--dry-run", "--mode", "0")
    assert result.returncode == 0, result.stderr
    state = board.state
    assert commands(result.stdout) == [
        f"mkdir -p {state}",
        f"rm -f {state}/jetson_clocks.conf {state}/.jetsonclocks_fan.txt",
        f"env HOME={state} jetson_clocks --store {state}/jetson_clocks.conf",
        f"write {state}/record (boot_id, taken_at, mode, mode_name)",
        "nvpmodel -m 0 </dev/null",
        f"env HOME={state} jetson_clocks",
    ]
    assert board.mode() == 1 and board.clocks() == "default" and not os.path.exists(state)


def test_prepare_says_it_needs_a_jetson_when_nvpmodel_is_missing():
    result = run_script(PREPARE, "--dry-run", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert "nvpmodel is not on PATH" in result.stderr


def test_prepare_refuses_a_mode_that_is_not_a_word():
    result = run_script(PREPARE, "--dry-run", "--mode", "15W;reboot")
    assert result.returncode == 2
    assert "--mode takes a mode number or name" in result.stderr


def test_the_interface_is_documented_at_the_top_of_the_script():
    with open(PREPARE) as f:
        head = f.read(3000)
    for text in ("--mode N|NAME", "--restore", "--state-dir", "0  done", "1  failed", "2  bad usage", "4  the power mode needs a reboot"):
        assert text in head


def test_an_nvpmodel_error_fails_with_its_lines_and_restore_still_works(tmp_path):
    board = Board(tmp_path, "jp6", mode=0)
    result = board.prepare("--mode", "MAXN_SUPER", env={"FAKE_NVPMODEL_FAIL": "2"})
    assert result.returncode == 1
    assert "nvpmodel: NVPM ERROR: failed to set power mode!" in result.stdout
    assert "power mode 2 did not take" in result.stderr
    assert board.restore().returncode == 0
    assert (board.mode(), board.clocks()) == (0, "default")


def test_restore_whose_mode_needs_a_reboot_puts_the_clocks_back_and_exits_4(tmp_path):
    board = Board(tmp_path, "jp5", mode=2)
    assert board.prepare("--mode", "0").returncode == 0
    result = board.restore(env={"FAKE_NVPMODEL_REBOOT": "2"})
    assert result.returncode == 4
    assert "needs a reboot to come back" in result.stderr
    assert board.clocks() == "default" and board.mode() == 0
    assert not os.path.exists(board.state)
