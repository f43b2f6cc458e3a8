// IAM requests evaluated by @cloud-copilot/iam-simulate (tools/rehearsal/privileges.py drives it).
//
// One JSON document a line on stdin: {"id": ..., "simulation": <iam-simulate's Simulation>}. One a line on stdout:
// {"id": ..., "result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied", "grants": [...], "denials": [...]},
// or {"id": ..., "error": "<why the simulator refused the request>"}. Strict mode: a condition on a key the request
// does not carry does not match, as in AWS.
import { createInterface } from 'node:readline'
import { getDenialReasons, getGrantReasons, runSimulation } from '@cloud-copilot/iam-simulate'

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let id = null
  let answer
  try {
    const request = JSON.parse(line)
    id = request.id
    const response = await runSimulation(request.simulation, { simulationMode: 'Strict' })
    if (response.resultType === 'error') {
      answer = { id, error: JSON.stringify(response.errors) }
    } else if (response.resultType === 'single') {
      const analysis = response.result.analysis
      answer = {
        id,
        result: response.overallResult,
        grants: getGrantReasons(analysis),
        denials: getDenialReasons(analysis)
      }
    } else {
      answer = { id, error: `a resource pattern, not one resource: ${request.simulation.request.resource.resource}` }
    }
  } catch (error) {
    answer = { id, error: String(error && error.stack ? error.stack : error) }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
}
