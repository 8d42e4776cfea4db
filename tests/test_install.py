"""install() and uninstall(), each scenario in a fresh Python process."""
from __future__ import absolute_import
import os

import scenarios
from base import patched_only

HERE = os.path.dirname(os.path.abspath(__file__))


class InstallAndUninstall(scenarios.ScenarioCase):

    def run_scenario(self, name):
        return scenarios.run_scenario(os.path.join(HERE, 'install_scenarios.py'), name,
                                      keep_settings_module=True)

    @patched_only('these scenarios are Django 1.0/1.1 projects; test_native covers 1.2+')
    def test_uninstall_puts_back_every_patched_attribute_and_a_second_install_changes_nothing(self):
        self.assertScenario('uninstall_restores_identity')

    @patched_only('these scenarios are Django 1.0/1.1 projects; test_native covers 1.2+')
    def test_install_before_django_is_imported_patches_modules_as_they_load(self):
        self.assertScenario('install_before_django_is_imported')

    @patched_only('these scenarios are Django 1.0/1.1 projects; test_native covers 1.2+')
    def test_copies_of_the_connection_taken_before_install_are_patched_and_restored(self):
        self.assertScenario('copies_taken_before_install_are_patched')

    @patched_only('these scenarios are Django 1.0/1.1 projects; test_native covers 1.2+')
    def test_settings_py_can_call_install_before_defining_databases(self):
        self.assertScenario('settings_module_installs_at_the_top')

    @patched_only('these scenarios are Django 1.0/1.1 projects; test_native covers 1.2+')
    def test_manage_py_flow_imports_settings_before_django(self):
        self.assertScenario('manage_py_imports_settings_before_django')

    def test_install_reads_no_setting_and_opens_nothing(self):
        self.assertScenario('install_reads_no_setting')

    def test_install_on_an_unsupported_django_names_the_supported_versions(self):
        self.assertScenario('unsupported_django')

    def test_uninstall_without_install_is_an_error(self):
        self.assertScenario('uninstall_without_install')

    @patched_only('these scenarios are Django 1.0/1.1 projects; test_native covers 1.2+')
    def test_the_test_runner_creates_and_destroys_a_test_database_for_every_alias(self):
        self.assertScenario('test_runner_creates_a_test_database_for_every_alias')

    @patched_only('these scenarios are Django 1.0/1.1 projects; test_native covers 1.2+')
    def test_syncdb_all_databases_creates_on_each_database_only_its_own_tables(self):
        self.assertScenario('syncdb_all_databases_creates_each_databases_own_tables')
