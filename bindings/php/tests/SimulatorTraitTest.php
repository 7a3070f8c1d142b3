<?php
/* The package's PHPUnit helper (testing/MikroBILLSimulator.php), used as an extension would. */

require_once __DIR__ . '/../testing/MikroBILLSimulator.php';

final class SimulatorTraitTest extends PHPUnit\Framework\TestCase
{
    use MikroBILL_SimulatorTrait;

    public function testAnUndocumentedPathAgainstAStubWithAScenario(): void
    {
        $sim = $this->startMikroBILLSimulator(array('stubs' => array(
            array('path' => 'API.Payments.*.Balance', 'value' => null, 'return' => '0',
                'scenario' => 'pay', 'required_state' => 'Started'),
            array('path' => 'API.Payments.*.Add', 'value' => '150', 'scenario' => 'pay', 'new_state' => 'Paid'),
            array('path' => 'API.Payments.*.Balance', 'value' => null, 'return' => '150',
                'scenario' => 'pay', 'required_state' => 'Paid'),
        )));
        $api = $sim->api();
        $balance = 'API.Payments.633824158637492.Balance';
        $this->assertSame('{"return":"0","code":0}', $api->Process($balance));
        $this->assertSame('{"return":"OK","code":0}', $api->Process('API.Payments.633824158637492.Add', '150'));
        $this->assertSame('{"return":"150","code":0}', $api->Process($balance));
        $api->Close();
        $journal = $sim->journal('API.Payments.*.*');
        $this->assertSame(array('stub', 'stub', 'stub'), array_column($journal, 'source'));
        $this->assertSame('api', $journal[0]['cashier']);
        $counts = $sim->counts();
        $this->assertSame(1, $counts['auths_granted']);
        $this->assertSame(1, $counts['disconnects']);
    }

    public function testFaultsDatasetAndReset(): void
    {
        $sim = $this->startMikroBILLSimulator(array(
            'dataset' => array('clients' => array(array('GUID' => 42, 'Name' => 'Tiny', 'Money' => '5'))),
            'faults' => array(array('path' => 'API.GetClients', 'action' => 'error', 'code' => 301, 'text' => 'busy')),
        ));
        $api = $sim->api(array('io_timeout_ms' => 1000));
        $this->assertSame('{"return":"busy","code":301}', $api->Process('API.GetClients'));
        $api->Process('API.Client.42.BillingInfo.Money', '7.5');
        $this->assertSame('7.5', $sim->clientState('42')['Money']);
        $sim->reset();
        $this->assertSame('5', $sim->clientState('42')['Money']);
        $sim->addFault(array('path' => 'API.Client.*.BillingInfo.Money', 'action' => 'close'));
        $reply = json_decode($api->Process('API.Client.42.BillingInfo.Money'), true);
        $this->assertSame(9002, $reply['code']);
        try {
            $sim->clientState('43');
            $this->fail('an unknown client must be a 404');
        } catch (RuntimeException $e) {
            $this->assertSame(404, $e->getCode());
        }
    }
}
