"""The network of the functions that read databases, when an environment names one (docs/operations.md,
"Database sources in a VPC").

An environment's `vpc` block in cdk.json names an existing VPC's private subnets (with their route
tables) and the security group the database admits. The functions in DATABASE_FUNCTIONS run there; they
reach AWS through VPC endpoints, so the subnets need no NAT gateway and nothing leaves the VPC:
gateway endpoints for S3 and DynamoDB (free, through the subnets' route tables) and interface endpoints
for Glue, Secrets Manager, Step Functions and STS (a project's source role is assumed through STS).
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.stacks.config import VpcConfig

# Functions that open connections to customers' databases: connection tests and discovery (connectors),
# and a run's plan, units and commit (workflow).
DATABASE_FUNCTIONS = ("connectors", "workflow")
INTERFACE_ENDPOINTS = {
    "Glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "StepFunctions": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
}
GATEWAY_ENDPOINTS = {
    "S3": ec2.GatewayVpcEndpointAwsService.S3,
    "DynamoDb": ec2.GatewayVpcEndpointAwsService.DYNAMODB,
}


class DatabaseNetwork(Construct):
    """The VPC attachment (`vpc`, `subnets`, `security_groups`) for a function and the endpoints."""

    def __init__(self, scope: Construct, construct_id: str, *, config: VpcConfig) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=config.vpc_id,
            availability_zones=[s.availability_zone for s in config.subnets],
            private_subnet_ids=[s.subnet_id for s in config.subnets],
            private_subnet_route_table_ids=[s.route_table_id for s in config.subnets],
        )
        self.subnets = ec2.SubnetSelection(subnets=self.vpc.private_subnets)
        self.security_group = ec2.SecurityGroup.from_security_group_id(
            self, "FunctionsSecurityGroup", config.security_group_id, mutable=False
        )
        if config.endpoints:
            self._endpoints()

    @property
    def security_groups(self) -> list[ec2.ISecurityGroup]:
        return [self.security_group]

    def _endpoints(self) -> None:
        for name, gateway in GATEWAY_ENDPOINTS.items():
            self.vpc.add_gateway_endpoint(f"{name}Endpoint", service=gateway, subnets=[self.subnets])
        # HTTPS from the functions' security group only.
        endpoints = ec2.SecurityGroup(
            self,
            "EndpointsSecurityGroup",
            vpc=self.vpc,
            description="ingestplane VPC interface endpoints: HTTPS from the database-reading functions",
            allow_all_outbound=False,
        )
        endpoints.add_ingress_rule(
            ec2.Peer.security_group_id(self.security_group.security_group_id),
            ec2.Port.tcp(443),
            "HTTPS from the functions that read databases",
        )
        for name, service in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                f"{name}Endpoint",
                service=service,
                subnets=self.subnets,
                security_groups=[endpoints],
                private_dns_enabled=True,
                open=False,  # only the group above admits connections (not the whole VPC CIDR)
            )
