"""The built-in resource types the compiler knows, with their attribute names.

The compiler rejects unknown attributes of these types at compile time, as Puppet does; the
engine implements the ones it can apply. Types a module ships in Ruby
(``lib/puppet/type/*.rb``) are accepted without attribute checks.
"""

from __future__ import annotations

METAPARAMS = frozenset({
    "alias", "audit", "before", "consume", "export", "loglevel", "noop", "notify", "require",
    "schedule", "stage", "subscribe", "tag",
})

RELATIONSHIP_METAPARAMS = ("before", "require", "notify", "subscribe")

_TYPES: dict[str, str] = {
    "file": "path ensure backup recurse recurselimit replace force ignore links purge sourceselect "
            "show_diff validate_cmd validate_replacement content source target mode owner group "
            "checksum checksum_value ctime mtime type seltype selrange selrole seluser "
            "selinux_ignore_defaults source_permissions max_files staging_location provider",
    "user": "name ensure uid gid groups membership home managehome shell comment password "
            "password_min_age password_max_age password_warn_days expiry system allowdupe forcelocal "
            "purge_ssh_keys provider attribute_membership attributes auth_membership auths "
            "ia_load_module iterations key_membership keys loginclass profile_membership profiles "
            "project role_membership roles salt",
    "group": "name ensure gid members auth_membership system allowdupe forcelocal provider "
             "attribute_membership attributes ia_load_module",
    "package": "name ensure provider source install_options uninstall_options adminfile allowcdrom "
               "category configfiles description flavor instance mark package_settings platform "
               "reinstall_on_refresh responsefile root status vendor allow_virtual command",
    "service": "name ensure enable binary control flags hasrestart hasstatus manifest path pattern "
               "restart start status stop provider logonaccount logonpassword timeout",
    "exec": "command creates cwd environment group logoutput onlyif path provider refresh refreshonly "
            "returns timeout tries try_sleep umask unless user",
    "notify": "name message withpath",
    "cron": "name ensure command environment hour minute month monthday weekday special target user "
            "provider",
    "tidy": "path age backup matches recurse rmdirs size type max_files",
    "schedule": "name period periodmatch range repeat weekday",
    "resources": "name purge unless_system_user unless_uid",
    "stage": "name",
    "filebucket": "name path port server",
    "host": "name ensure ip host_aliases comment target provider",
    "mount": "name ensure device fstype options pass dump atboot remounts target blockdevice provider",
    "ssh_authorized_key": "name ensure key type user target options drop_private_keys provider",
    "sshkey": "name ensure key type host_aliases target provider",
    "healthcheck": "name check url host port command path environment expect_status expect_body retries "
                   "interval timeout",
    "whit": "name",
    "component": "name",
}

BUILTIN_TYPES: dict[str, frozenset[str]] = {
    name: frozenset(attrs.split()) | METAPARAMS for name, attrs in _TYPES.items()
}

#: The attribute that names the managed thing when the title doesn't.
NAMEVARS = {"file": "path", "exec": "command", "tidy": "path"}
