"""Configuration rules: precedence, profiles, the 0600 rule (offline)."""
from __future__ import annotations

import os
import stat
import unittest

import fmugw
from support import environ, temp_home

KEY_A = "fmugw_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
KEY_B = "fmugw_live_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


class ConfigTest(unittest.TestCase):
    def test_save_profile_creates_private_file_and_dir(self) -> None:
        with temp_home() as home:
            path = fmugw.configure("http://gw.example:8080/", KEY_A)
            self.assertEqual(path, os.path.join(home, ".fmu_gateway", "config"))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
            with open(path) as f:
                text = f.read()
            self.assertIn("[default]", text)
            self.assertIn("base_url = http://gw.example:8080\n", text)  # trailing slash dropped
            c = fmugw.Client()
            self.assertEqual(c.base_url, "http://gw.example:8080")
            self.assertEqual(c.settings.api_key, KEY_A)
            self.assertEqual(c.settings.profile, "default")

    def test_save_profile_keeps_other_profiles(self) -> None:
        with temp_home():
            fmugw.configure("http://one:1", KEY_A)
            fmugw.configure("http://two:2", KEY_B, profile="staging")
            profiles = fmugw.read_profiles()
            self.assertEqual(sorted(profiles), ["default", "staging"])
            self.assertEqual(profiles["default"]["base_url"], "http://one:1")
            self.assertEqual(fmugw.Client(profile="staging").settings.api_key, KEY_B)
            with environ(FMUGW_PROFILE="staging"):
                c = fmugw.Client()
                self.assertEqual((c.base_url, c.settings.profile), ("http://two:2", "staging"))

    def test_environment_overrides_file_and_arguments_override_environment(self) -> None:
        with temp_home():
            fmugw.configure("http://file:1", KEY_A)
            with environ(FMUGW_BASE_URL="http://env:2"):
                c = fmugw.Client()
                self.assertEqual((c.base_url, c.settings.api_key), ("http://env:2", KEY_A))
            with environ(FMUGW_API_KEY=KEY_B):
                self.assertEqual(fmugw.Client().settings.api_key, KEY_B)
                c = fmugw.Client(base_url="http://arg:3", api_key=KEY_A)
                self.assertEqual((c.base_url, c.settings.api_key), ("http://arg:3", KEY_A))

    def test_group_or_world_readable_file_is_refused(self) -> None:
        with temp_home():
            path = fmugw.configure("http://file:1", KEY_A)
            for mode in (0o640, 0o604, 0o660):
                os.chmod(path, mode)
                with self.assertRaises(fmugw.ConfigError) as cm:
                    fmugw.Client()
                self.assertIn("chmod 600", str(cm.exception))
                self.assertIn(f"{mode:04o}", str(cm.exception))
                self.assertIsInstance(cm.exception, fmugw.FmuGatewayError)
            # saving over an unsafe file is refused as well (it would keep it readable)
            with self.assertRaises(fmugw.ConfigError):
                fmugw.configure("http://file:1", KEY_B)
            os.chmod(path, 0o600)
            self.assertEqual(fmugw.Client().settings.api_key, KEY_A)

    def test_unsafe_file_is_not_read_when_environment_suffices(self) -> None:
        with temp_home():
            path = fmugw.configure("http://file:1", KEY_A)
            os.chmod(path, 0o644)
            with environ(FMUGW_BASE_URL="http://env:2", FMUGW_API_KEY=KEY_B):
                self.assertEqual(fmugw.Client().settings.api_key, KEY_B)
                # ...but naming a profile reads (and refuses) the file
                with self.assertRaises(fmugw.ConfigError):
                    fmugw.Client(profile="default")

    def test_missing_key_and_missing_profile_are_clear_errors(self) -> None:
        with temp_home():
            with self.assertRaises(fmugw.ConfigError) as cm:
                fmugw.Client()
            self.assertIn("FMUGW_API_KEY", str(cm.exception))
            fmugw.configure("http://file:1", KEY_A)
            with self.assertRaises(fmugw.ConfigError) as cm:
                fmugw.Client(profile="nope")
            self.assertIn("[nope]", str(cm.exception))

    def test_default_base_url_and_scheme_check(self) -> None:
        with temp_home():
            self.assertEqual(fmugw.Client(api_key=KEY_A).base_url, fmugw.config.DEFAULT_BASE_URL)
            with self.assertRaises(fmugw.ConfigError):
                fmugw.Client(base_url="gw.example:8080", api_key=KEY_A)

    def test_unparseable_file(self) -> None:
        with temp_home() as home:
            os.makedirs(os.path.join(home, ".fmu_gateway"), mode=0o700)
            path = os.path.join(home, ".fmu_gateway", "config")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, b"base_url = no section header\n")
            os.close(fd)
            with self.assertRaises(fmugw.ConfigError) as cm:
                fmugw.Client()
            self.assertIn("cannot parse", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
