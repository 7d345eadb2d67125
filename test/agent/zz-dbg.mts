import { startAgent } from '/work/main/test/agent/fixture.ts';
import { AgentPtyClient } from '/work/main/packages/server/src/agent-client/index.ts';
const agent = await startAgent();
const pty = new AgentPtyClient(agent.client);
for (const cmd of ['sleep 100', 'sleep 100; true']) {
  const { id } = await pty.create({ cols: 80, rows: 24, cmd, user: 'nobody' });
  const events = pty.output(id);
  await pty.kill(id);
  for await (const e of events) if (e.type === 'exit') console.log(cmd, JSON.stringify(e));
}
await agent.stop();
