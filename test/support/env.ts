import { join } from 'node:path';

/** Where the test suite keeps its state; separate from a dev server's /var/lib/paddock. */
export const TEST_ROOT = process.env.PADDOCK_TEST_ROOT ?? '/var/tmp/paddock-test';
/** Data dir shared by the suite's servers (templates are built once per machine and cached there). */
export const TEST_DATA_DIR = join(TEST_ROOT, 'data');
/** cgroup parent of the suite's sandboxes, so that leak checks never confuse them with a dev server's. */
export const TEST_CGROUP_PARENT = process.env.PADDOCK_TEST_CGROUP_PARENT ?? 'paddock-test';
/**
 * Sandbox addresses of the suite's servers: not the server default (10.88.0.0/16), so a dev
 * server running beside the suite never hands out the same veth addresses.
 */
export const TEST_SUBNET = process.env.PADDOCK_TEST_SUBNET ?? '10.89.0.0/16';
export const TEST_API_KEY = 'pdk_test_0123456789abcdef0123456789abcdef';
