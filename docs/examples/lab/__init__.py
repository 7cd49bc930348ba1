"""The example lab of `make demo`: two network namespaces with strongSwan, the key hand-off, ansible-playbook runs."""
