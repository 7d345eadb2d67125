import type { AllowRule } from '@paddock/protocol';

type DomainRule = Extract<AllowRule, { kind: 'domain' }>;
type CidrRule = Extract<AllowRule, { kind: 'cidr' }>;

/** Ports a domain rule without a port opens (what the egress proxy listens on for it). */
export const DEFAULT_DOMAIN_PORTS: readonly number[] = [80, 443];

/** `*.suffix` matches any name below suffix (not suffix itself); anything else matches exactly. */
export function nameMatches(pattern: string, name: string): boolean {
  const host = name.toLowerCase().replace(/\.$/, '');
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return host === pattern;
}

export function domainRules(rules: readonly AllowRule[]): DomainRule[] {
  return rules.filter((r): r is DomainRule => r.kind === 'domain');
}

export function cidrRules(rules: readonly AllowRule[]): CidrRule[] {
  return rules.filter((r): r is CidrRule => r.kind === 'cidr');
}

/** Whether a domain rule lets `name` through on `port`. */
export function domainAllows(rules: readonly AllowRule[], name: string, port?: number): boolean {
  return domainRules(rules).some(
    (rule) =>
      nameMatches(rule.pattern, name) &&
      (port === undefined || (rule.port === undefined ? DEFAULT_DOMAIN_PORTS.includes(port) : rule.port === port)),
  );
}

/** The ports the egress proxy must listen on for these rules: 80, 443 and every port a domain rule names. */
export function proxyPorts(rules: readonly AllowRule[]): number[] {
  const ports = new Set<number>(DEFAULT_DOMAIN_PORTS);
  for (const rule of domainRules(rules)) if (rule.port !== undefined) ports.add(rule.port);
  return [...ports].sort((a, b) => a - b);
}
