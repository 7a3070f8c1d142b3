<?php
/* A kassa-style extension call through the PHP binding's apicore.php: the dashboard test runs
 * it and waits for its requests to appear in the live journal. Usage: php extension.php PORT */

require __DIR__ . '/../../bindings/php/apicore.php';

$api = new MikroBILL_API('127.0.0.1', (int)$argv[1], 'api', 'secret',
    'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', 'EBESExQVFhcYGRobHB0eHw==');
echo $api->Process('API.Tariffs.7.Name'), "\n";
echo $api->Process('API.Client.633824158637492.AutorizeInfo.Name', 'Renamed from the extension'), "\n";
echo $api->Process('API.Reports.Huge'), "\n";
// An account password set in a batch: the journal and the page must not show it.
echo $api->Process('API.Client.633824158637492', array('AutorizeInfo' => array('Accounts' => array(
    '28236356495083' => array('Password' => 'batch-secret-7'))))), "\n";
$api->Close();
// A login the simulator refuses: the dashboard shows who was refused and why.
$wrong = new MikroBILL_API('127.0.0.1', (int)$argv[1], 'api', 'not-the-password',
    'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', 'EBESExQVFhcYGRobHB0eHw==');
echo json_decode($wrong->Process('API.GetClients'), true)['code'], "\n";
