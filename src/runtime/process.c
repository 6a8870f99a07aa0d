/* placeholder: filled by the runtime work in progress */
