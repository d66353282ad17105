"""pe-plan: Terraform-style plan/apply for EVPN/VXLAN provider-edge routers on Linux."""

__version__ = "0.1.0"
